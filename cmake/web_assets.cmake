# SPDX-License-Identifier: Apache-2.0
# Embeds the dashboard (web/*.html|js|css, the replay example as the editor's template, and
# uPlot from npm) into mpcore as byte arrays generated in the build directory. uPlot comes from
# the npm cache that `make deps` fills (deps/cache/npm/web, `npm ci` of web/package-lock.json):
# the build itself never uses the network.
include(${CMAKE_SOURCE_DIR}/cmake/npm_cache.cmake)
mp_npm_cache(web MP_WEB_MODULES)
set(MP_UPLOT_DIR ${MP_WEB_MODULES}/uplot/dist)
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
