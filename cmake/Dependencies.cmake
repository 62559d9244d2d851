# Every dependency is a Debian -dev package here; on the GPU machine the same names come from the
# device bundle plus the CUDA libtorch found through CMAKE_PREFIX_PATH.
# Protobuf before Torch: the CUDA wheel's Caffe2 config otherwise defines an empty
# protobuf::libprotobuf of its own, and nothing links the real library.
find_package(Protobuf REQUIRED)
find_package(Torch REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(GTest REQUIRED)
find_package(Threads REQUIRED)
# Debian's per-module OpenCV -dev packages ship no CMake config: find the three modules directly.
find_path(OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
foreach(m core imgproc imgcodecs)
  find_library(OPENCV_${m} opencv_${m} REQUIRED)
endforeach()
add_library(opencv_minimal INTERFACE)
target_include_directories(opencv_minimal INTERFACE ${OPENCV_INCLUDE_DIR})
target_link_libraries(opencv_minimal INTERFACE ${OPENCV_core} ${OPENCV_imgproc} ${OPENCV_imgcodecs})

# libtorch's own flags (the C++ ABI) apply to everything that includes its headers.
add_library(torch_deps INTERFACE)
target_link_libraries(torch_deps INTERFACE ${TORCH_LIBRARIES})
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(torch_deps INTERFACE ${_torch_flags})
