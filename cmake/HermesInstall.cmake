# Installation helpers shared by the daemons' CMakeLists.

# hermes_install_unit(TEMPLATE): install the systemd unit TEMPLATE (a path
# relative to the calling directory, ending in .in) to lib/systemd/system of
# the prefix given at install time (cmake --install --prefix, cpack), with
# @HERMES_UNIT_BINDIR@ replaced by that prefix's bindir. Configure-time
# substitution would name the prefix of the configure step instead.
function(hermes_install_unit template)
  get_filename_component(unit "${template}" NAME)
  string(REGEX REPLACE "\\.in$" "" unit "${unit}")
  set(in "${CMAKE_CURRENT_SOURCE_DIR}/${template}")
  install(CODE "
    if(IS_ABSOLUTE \"${CMAKE_INSTALL_BINDIR}\")
      set(HERMES_UNIT_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
    else()
      set(HERMES_UNIT_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    endif()
    set(out \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/${unit}\")
    message(STATUS \"Installing: \${out}\")
    configure_file(\"${in}\" \"\${out}\" @ONLY)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${out}\")")
endfunction()
