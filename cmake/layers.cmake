# One static library per layer, and a check that no source includes from a layer it does not
# depend on.
#
#   lb_layer(<target> DIR <folder> SOURCES <files...> [DEPENDS <layer targets...>]
#            [PUBLIC_LIBS <external targets...>] [PRIVATE_LIBS <external targets...>])
#
# DEPENDS names the layers below this one that its code may use; they are linked PUBLIC, so
# what a layer may include and what it links are the same list. A file of <folder> may include
# headers of <folder> itself and of every layer reachable through DEPENDS, nothing else of ours:
# check_layers (part of every build) fails on anything else, with the file, the line and the
# rule it breaks. docs/architecture.md draws the layers.
set(LB_LAYER_TARGETS "" CACHE INTERNAL "")

function(lb_layer target)
  cmake_parse_arguments(L "" "DIR" "SOURCES;DEPENDS;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  if(NOT L_DIR)
    message(FATAL_ERROR "lb_layer(${target}): DIR is required")
  endif()
  list(TRANSFORM L_SOURCES PREPEND "${PROJECT_SOURCE_DIR}/${L_DIR}/")
  add_library(${target} STATIC ${L_SOURCES})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${L_DEPENDS} ${L_PUBLIC_LIBS} PRIVATE ${L_PRIVATE_LIBS})
  target_compile_options(${target} PRIVATE ${LB_WARNINGS})
  set(LB_LAYER_TARGETS "${LB_LAYER_TARGETS};${target}" CACHE INTERNAL "")
  set_property(GLOBAL PROPERTY LB_LAYER_DIR_${target} "${L_DIR}")
  set_property(GLOBAL PROPERTY LB_LAYER_DEPS_${target} "${L_DEPENDS}")
endfunction()

# A folder that belongs to no library of its own (an executable's sources, the tests) but still
# obeys the rules: it may include only from the layers it names.
function(lb_layer_user dir)
  cmake_parse_arguments(L "" "" "DEPENDS" ${ARGN})
  set(name "dir_${dir}")
  string(REPLACE "/" "_" name "${name}")
  set(LB_LAYER_TARGETS "${LB_LAYER_TARGETS};${name}" CACHE INTERNAL "")
  set_property(GLOBAL PROPERTY LB_LAYER_DIR_${name} "${dir}")
  set_property(GLOBAL PROPERTY LB_LAYER_DEPS_${name} "${L_DEPENDS}")
endfunction()

function(_lb_layer_closure target out)
  set(seen "")
  set(todo ${target})
  while(todo)
    list(POP_FRONT todo t)
    if(t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    get_property(deps GLOBAL PROPERTY LB_LAYER_DEPS_${t})
    list(APPEND todo ${deps})
  endwhile()
  set(dirs "")
  foreach(t IN LISTS seen)
    get_property(d GLOBAL PROPERTY LB_LAYER_DIR_${t})
    if(d)
      list(APPEND dirs ${d})
    endif()
  endforeach()
  set(${out} "${dirs}" PARENT_SCOPE)
endfunction()

# Writes the rules (folder -> folders it may include) and adds the check to the build.
function(lb_check_layers)
  set(rules "")
  set(all_dirs "")
  foreach(t IN LISTS LB_LAYER_TARGETS)
    if(NOT t)
      continue()
    endif()
    get_property(dir GLOBAL PROPERTY LB_LAYER_DIR_${t})
    _lb_layer_closure(${t} allowed)
    list(JOIN allowed "|" allowed_text)
    string(APPEND rules "${dir}=${allowed_text}\n")
    list(APPEND all_dirs ${dir})
  endforeach()
  set(rules_file "${CMAKE_BINARY_DIR}/layer_rules.txt")
  file(WRITE "${rules_file}" "${rules}")
  execute_process(
    COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -DRULES=${rules_file}
            -P ${PROJECT_SOURCE_DIR}/cmake/check_layers_run.cmake
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "layer rules broken (see above)")
  endif()
  add_custom_target(check_layers ALL
    COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -DRULES=${rules_file}
            -P ${PROJECT_SOURCE_DIR}/cmake/check_layers_run.cmake
    COMMENT "Checking that every include respects the layers"
    VERBATIM)
endfunction()
