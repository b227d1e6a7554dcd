# SPDX-License-Identifier: Apache-2.0
# Embeds the dashboard (web/*.html|js|css, the replay example as the editor's template, and
# uPlot from npm) into mpcore as byte arrays generated in the build directory. uPlot comes from
# the npm cache that `make deps` fills (deps/cache/npm/web, `npm ci` of web/package-lock.json):
# the build itself never uses the network.
set(MP_NPM_CACHE ${CMAKE_SOURCE_DIR}/deps/cache/npm CACHE PATH
    "Where `make deps` installed the npm packages (one folder per package-lock.json)")
set(MP_UPLOT_DIR ${MP_NPM_CACHE}/web/node_modules/uplot/dist)
# A changed lock file re-runs this check: the cache must hold what it pins.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
    ${CMAKE_SOURCE_DIR}/web/package-lock.json)
file(READ ${CMAKE_SOURCE_DIR}/web/package-lock.json MP_WEB_LOCK)
set(MP_WEB_INSTALLED "")
if(EXISTS ${MP_NPM_CACHE}/web/installed.lock)
    file(READ ${MP_NPM_CACHE}/web/installed.lock MP_WEB_INSTALLED)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
        ${MP_NPM_CACHE}/web/installed.lock)
endif()
if(NOT EXISTS ${MP_UPLOT_DIR}/uPlot.iife.min.js OR NOT MP_WEB_LOCK STREQUAL MP_WEB_INSTALLED)
    message(FATAL_ERROR "uPlot for the dashboard is missing or older than web/package-lock.json "
        "in ${MP_NPM_CACHE}/web: run 'make deps' (it installs the npm packages the build needs)")
endif()
set(MP_WEB_FILES
    /index.html=${CMAKE_SOURCE_DIR}/web/index.html
    /app.js=${CMAKE_SOURCE_DIR}/web/app.js
    /charts.js=${CMAKE_SOURCE_DIR}/web/charts.js
    /style.css=${CMAKE_SOURCE_DIR}/web/style.css
    /template.yaml=${CMAKE_SOURCE_DIR}/web/template.yaml
    /vendor/uPlot.iife.min.js=${MP_UPLOT_DIR}/uPlot.iife.min.js
    /vendor/uPlot.min.css=${MP_UPLOT_DIR}/uPlot.min.css)
set(MP_WEB_DEPENDS)
foreach(pair IN LISTS MP_WEB_FILES)
    string(REGEX REPLACE "^[^=]*=" "" file ${pair})
    list(APPEND MP_WEB_DEPENDS ${file})
endforeach()
set(MP_WEB_C ${CMAKE_BINARY_DIR}/generated/web_assets.c)
add_custom_command(
    OUTPUT ${MP_WEB_C}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/generated
    COMMAND sh ${CMAKE_SOURCE_DIR}/scripts/embed-assets.sh ${MP_WEB_C} ${MP_WEB_FILES}
    DEPENDS ${CMAKE_SOURCE_DIR}/scripts/embed-assets.sh ${MP_WEB_DEPENDS}
    COMMENT "Embedding the dashboard")
target_sources(mpcore PRIVATE ${MP_WEB_C})
