# prebuild.cmake — CPack pre-build script (CPACK_PRE_BUILD_SCRIPTS): runs on
# the staging tree after the install, before the .debs are made.
# The build installs its configuration to <prefix>/etc/connectord (that is
# the layout of `cmake --install --prefix P`); in the package it belongs in
# /etc/connectord, and every file there is a conffile, so an upgrade never
# overwrites what ops changed.
file(GLOB cd_stages LIST_DIRECTORIES true "${CPACK_TEMPORARY_DIRECTORY}/*")
set(cd_conffiles "")
foreach(stage ${cd_stages})
  set(usr_etc "${stage}${CPACK_PACKAGING_INSTALL_PREFIX}/etc")
  if(IS_DIRECTORY "${usr_etc}")
    file(MAKE_DIRECTORY "${stage}/etc")
    file(GLOB cd_children "${usr_etc}/*")
    foreach(child ${cd_children})
      get_filename_component(leaf "${child}" NAME)
      file(RENAME "${child}" "${stage}/etc/${leaf}")
    endforeach()
    file(REMOVE_RECURSE "${usr_etc}")
    file(GLOB_RECURSE cd_etc_files RELATIVE "${stage}" "${stage}/etc/*")
    list(SORT cd_etc_files)
    foreach(f ${cd_etc_files})
      string(APPEND cd_conffiles "/${f}\n")
    endforeach()
  endif()
endforeach()
file(WRITE "${CD_PKG_CONFFILES}" "${cd_conffiles}")
message(STATUS "connectord: conffiles: ${cd_conffiles}")
