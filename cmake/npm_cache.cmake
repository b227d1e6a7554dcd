# SPDX-License-Identifier: Apache-2.0
# The npm packages come from the cache `make deps` fills (scripts/deps.sh: `npm ci` of every
# package-lock.json into deps/cache/npm/<its folder>), never from the network at build time.
# mp_npm_cache(DIR VAR) sets VAR to the node_modules folder of the package folder DIR (relative
# to the source tree) and stops the configure, saying to run `make deps`, when the cache is
# missing or older than DIR's lock file; a changed lock file or cache re-runs this check.
set(MP_NPM_CACHE ${CMAKE_SOURCE_DIR}/deps/cache/npm CACHE PATH
    "Where `make deps` installed the npm packages (one folder per package-lock.json)")
function(mp_npm_cache dir var)
    set(lock ${CMAKE_SOURCE_DIR}/${dir}/package-lock.json)
    set(stamp ${MP_NPM_CACHE}/${dir}/installed.lock)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${lock})
    file(READ ${lock} want)
    set(have "")
    if(EXISTS ${stamp})
        file(READ ${stamp} have)
        set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${stamp})
    endif()
    if(NOT want STREQUAL have)
        message(FATAL_ERROR "the npm packages of ${dir} are missing from ${MP_NPM_CACHE}/${dir} "
            "or older than its package-lock.json: run 'make deps' (it installs what the build "
            "needs, so that the build itself needs no network)")
    endif()
    set(${var} ${MP_NPM_CACHE}/${dir}/node_modules PARENT_SCOPE)
endfunction()
