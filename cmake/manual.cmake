# SPDX-License-Identifier: Apache-2.0
# The manual: morphling(1) and the bash completion script are printed by the built binary from
# its option tables (`morphling help --man`, `--completion`), morphling-spec(5) is docs/spec.md
# converted by scripts/md2man.awk; `make install` (cmake --install) installs them with the binary.
include(GNUInstallDirs)
set(MP_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(MP_COMPLETION ${CMAKE_BINARY_DIR}/completion/morphling)
add_custom_command(
    OUTPUT ${MP_MAN_DIR}/morphling.1 ${MP_COMPLETION}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${MP_MAN_DIR} ${CMAKE_BINARY_DIR}/completion
    COMMAND ASAN_OPTIONS=detect_leaks=0 $<TARGET_FILE:morphling> help --man > ${MP_MAN_DIR}/morphling.1
    COMMAND ASAN_OPTIONS=detect_leaks=0 $<TARGET_FILE:morphling> help --completion > ${MP_COMPLETION}
    DEPENDS morphling
    COMMENT "Generating morphling(1) and the bash completion from the option tables")
add_custom_command(
    OUTPUT ${MP_MAN_DIR}/morphling-spec.5
    COMMAND ${CMAKE_COMMAND} -E make_directory ${MP_MAN_DIR}
    COMMAND awk -v name=morphling-spec -v section=5 -v version=${PROJECT_VERSION}
        -v "title=the experiment spec format of morphling"
        -f ${CMAKE_SOURCE_DIR}/scripts/md2man.awk ${CMAKE_SOURCE_DIR}/docs/spec.md
        > ${MP_MAN_DIR}/morphling-spec.5
    DEPENDS ${CMAKE_SOURCE_DIR}/scripts/md2man.awk ${CMAKE_SOURCE_DIR}/docs/spec.md
    COMMENT "Generating morphling-spec(5) from docs/spec.md")
add_custom_target(manual ALL
    DEPENDS ${MP_MAN_DIR}/morphling.1 ${MP_MAN_DIR}/morphling-spec.5 ${MP_COMPLETION})

install(TARGETS morphling RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${MP_MAN_DIR}/morphling.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${MP_MAN_DIR}/morphling-spec.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${MP_COMPLETION}
    DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
