# SPDX-License-Identifier: Apache-2.0
# Embeds the dashboard (web/*.html|css, the modules web/*.js and web/views/*.js, the editor's
# template, and uPlot from npm) into mpcore as byte arrays generated in the build directory.
# uPlot comes from the npm cache that `make deps` fills (deps/cache/npm/web, `npm ci` of
# web/package-lock.json): the build itself never uses the network.
include(${CMAKE_SOURCE_DIR}/cmake/npm_cache.cmake)
mp_npm_cache(web MP_WEB_MODULES)
set(MP_UPLOT_DIR ${MP_WEB_MODULES}/uplot/dist)
# Every ES module of web/ and web/views/ (the page imports them by path, without a bundler).
file(GLOB MP_WEB_MODULE_FILES CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/web
    ${CMAKE_SOURCE_DIR}/web/*.js ${CMAKE_SOURCE_DIR}/web/views/*.js)
set(MP_WEB_FILES
    /index.html=${CMAKE_SOURCE_DIR}/web/index.html
    /style.css=${CMAKE_SOURCE_DIR}/web/style.css
    /template.yaml=${CMAKE_SOURCE_DIR}/web/template.yaml
    /vendor/uPlot.iife.min.js=${MP_UPLOT_DIR}/uPlot.iife.min.js
    /vendor/uPlot.min.css=${MP_UPLOT_DIR}/uPlot.min.css)
foreach(module IN LISTS MP_WEB_MODULE_FILES)
    list(APPEND MP_WEB_FILES /${module}=${CMAKE_SOURCE_DIR}/web/${module})
endforeach()
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
