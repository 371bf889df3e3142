# install.cmake — `cmake --install`: the binaries, the systemd units, sysusers.d and tmpfiles.d
# entries, and an example config. Paths are relative to the prefix (default /usr/local; systemd
# searches /usr/local/lib/systemd/system, /usr/local/lib/sysusers.d and tmpfiles.d too).
include(GNUInstallDirs)

set(PROVISIOND_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING "systemd unit directory")
set(PROVISIOND_SYSUSERSDIR "lib/sysusers.d" CACHE STRING "sysusers.d directory")
set(PROVISIOND_TMPFILESDIR "lib/tmpfiles.d" CACHE STRING "tmpfiles.d directory")

install(TARGETS provisiond device-sim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The service names its binary by absolute path, so it is written at install time from the
# prefix actually used (`cmake --install build --prefix /tmp/x` gives /tmp/x/bin/provisiond).
set(_gen "${PROJECT_BINARY_DIR}/systemd-gen")
install(CODE "
  set(bindir \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(docdir \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/systemd/provisiond.service.in\"
                 \"${_gen}/provisiond.service\" @ONLY)
")
install(FILES "${_gen}/provisiond.service" systemd/provisiond.socket
        DESTINATION ${PROVISIOND_SYSTEMD_UNITDIR})
install(FILES systemd/provisiond.sysusers DESTINATION ${PROVISIOND_SYSUSERSDIR}
        RENAME provisiond.conf)
install(FILES systemd/provisiond.tmpfiles DESTINATION ${PROVISIOND_TMPFILESDIR}
        RENAME provisiond.conf)
install(FILES systemd/provisiond.toml.example README.md docs/operations.md docs/packaging.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# The operator's kit (docs/operations.md): Prometheus alerting rules and a Grafana dashboard.
install(FILES docs/ops/provisiond-alerts.yml docs/ops/provisiond-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/ops)
# Only in the Debian package (package.cmake): the example as the config, a conffile.
install(FILES systemd/provisiond.toml.example DESTINATION /etc/provisiond RENAME provisiond.toml
        COMPONENT deb_only EXCLUDE_FROM_ALL)
