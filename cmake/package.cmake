# package.cmake — `cmake --build build --target package` (or scripts/build-deb.sh): the Debian
# package provisiond_<version>_amd64.deb, made by CPack from what `cmake --install` installs,
# installed under /usr, plus /etc/provisiond/provisiond.toml (a conffile) and the maintainer
# scripts in packaging/deb/. Runtime dependencies come from dpkg-shlibdeps (docs/packaging.md).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME provisiond)
set(CPACK_PACKAGE_VENDOR "provisiond")
# Whoever publishes the package sets their own (-DPROVISIOND_DEB_MAINTAINER="Name <mail>");
# the default is the repository's commit identity.
set(PROVISIOND_DEB_MAINTAINER
    "provisiond maintainers <maintainers@users.noreply.r-seed-208cd866.example>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT "${PROVISIOND_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "device-provisioning CA (EST over TLS 1.3 mTLS)")
set(CPACK_PACKAGE_DESCRIPTION
    "provisiond issues operational certificates to devices that prove their\n\
identity with a manufacturer bootstrap certificate over EST (RFC 7030) with\n\
mutual TLS, and records every issuance in SQLite or PostgreSQL before\n\
answering. Includes device-sim (an EST client and fleet simulator), the\n\
systemd units, Prometheus alerting rules and a Grafana dashboard.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # provisiond_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://localhost/provisiond")
# Depends: from the binaries' ELF NEEDED entries, which names libmbedtls21 (>= 3.6) and
# libllhttp9.2 as installed from trixie by scripts/install-deps.sh.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The maintainer scripts use useradd as a fallback when systemd-sysusers is absent.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, postgresql-client")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Debian's per-package files: changelog.gz, copyright, the reviewed lintian overrides.
configure_file(packaging/deb/changelog.in "${PROJECT_BINARY_DIR}/packaging/changelog" @ONLY)
execute_process(COMMAND gzip -9nf "${PROJECT_BINARY_DIR}/packaging/changelog")
install(FILES "${PROJECT_BINARY_DIR}/packaging/changelog.gz" packaging/deb/copyright
        DESTINATION share/doc/provisiond COMPONENT deb_only EXCLUDE_FROM_ALL)
install(FILES packaging/deb/lintian-overrides DESTINATION share/lintian/overrides
        RENAME provisiond COMPONENT deb_only EXCLUDE_FROM_ALL)
set(_deb_conffiles "${PROJECT_BINARY_DIR}/packaging/conffiles")
file(WRITE "${_deb_conffiles}" "/etc/provisiond/provisiond.toml\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/deb/postinst;${PROJECT_SOURCE_DIR}/packaging/deb/prerm;\
${PROJECT_SOURCE_DIR}/packaging/deb/postrm;${_deb_conffiles}")
# One package made of the default component and `deb_only` (the conffile under /etc, which a
# plain `cmake --install` leaves alone): each installed by name, so EXCLUDE_FROM_ALL is included.
set(CPACK_INSTALL_CMAKE_PROJECTS
    "${PROJECT_BINARY_DIR};provisiond;Unspecified;/"
    "${PROJECT_BINARY_DIR};provisiond;deb_only;/")
include(CPack)
