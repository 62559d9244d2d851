# Every dependency is a Debian -dev package here; on the GPU machine the same names come from the
# device bundle plus the CUDA libtorch found through CMAKE_PREFIX_PATH.
# Protobuf before Torch: the CUDA wheel's Caffe2 config otherwise defines an empty
# protobuf::libprotobuf of its own, and nothing links the real library.
find_package(Protobuf REQUIRED)
# Torch's config adds -gencode flags to every CUDA source for this list; its default includes
# architectures nvcc 13 no longer compiles. The default here is the GPU we run on (H100).
if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "9.0")
endif()
find_package(Torch REQUIRED)
# CUDA sources compile wherever libtorch is a CUDA build and nvcc is found: on the GPU machine and
# on every CPU machine of ours (CI included), where they compile and link but never run. So a
# CPU-side change cannot break the GPU build unseen. MEDGEMMA_REQUIRE_CUDA=ON (CI) makes a machine
# that cannot compile them an error instead of a silent CPU-only build.
option(MEDGEMMA_REQUIRE_CUDA "Fail unless the CUDA sources can be compiled" OFF)
set(MEDGEMMA_CUDA OFF)
if(TORCH_CUDA_LIBRARIES)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # libtorch's shared CUDA runtime: a static copy would register our kernels in a second runtime.
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    enable_language(CUDA)
    set(MEDGEMMA_CUDA ON)
  endif()
endif()
if(MEDGEMMA_REQUIRE_CUDA AND NOT MEDGEMMA_CUDA)
  message(FATAL_ERROR "MEDGEMMA_REQUIRE_CUDA: needs a CUDA build of libtorch and nvcc")
endif()
message(STATUS "medgemma: CUDA sources ${MEDGEMMA_CUDA}")
find_package(absl CONFIG REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(DCMTK CONFIG REQUIRED)  # DICOM input (server/dicom_decoder)
find_package(ZLIB REQUIRED)  # server/dicom_decoder inflates deflated DICOM with a cap
find_package(yaml-cpp REQUIRED)
find_package(GTest REQUIRED)
find_package(Threads REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED)
# Debian's per-module OpenCV -dev packages ship no CMake config: find the three modules directly.
find_path(OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4 REQUIRED)
foreach(m core imgproc imgcodecs)
  find_library(OPENCV_${m} opencv_${m} REQUIRED)
endforeach()
add_library(opencv_minimal INTERFACE)
target_include_directories(opencv_minimal INTERFACE ${OPENCV_INCLUDE_DIR})
target_link_libraries(opencv_minimal INTERFACE ${OPENCV_core} ${OPENCV_imgproc} ${OPENCV_imgcodecs})
# libtiff itself (the library under OpenCV's TIFF decoder) for CMYK TIFFs' raw samples.
find_package(TIFF REQUIRED)

# libtorch's own flags (the C++ ABI) apply to everything that includes its headers.
add_library(torch_deps INTERFACE)
target_link_libraries(torch_deps INTERFACE ${TORCH_LIBRARIES})
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(torch_deps INTERFACE ${_torch_flags})

# The CUDA torch wheel ships an older protobuf's headers in its include directory, which GCC would
# search before /usr/include (a standard directory that -I cannot move forward). A link to the
# system protobuf headers in the build tree, put first, makes every TU see the headers that match
# the library it links.
set(PROTOBUF_FIRST_DIR ${CMAKE_BINARY_DIR}/protobuf-first)
file(MAKE_DIRECTORY ${PROTOBUF_FIRST_DIR}/google)
file(CREATE_LINK ${Protobuf_INCLUDE_DIR}/google/protobuf ${PROTOBUF_FIRST_DIR}/google/protobuf SYMBOLIC)
function(medgemma_protobuf_headers_first target)
  target_include_directories(${target} SYSTEM BEFORE PRIVATE ${PROTOBUF_FIRST_DIR})
endfunction()

# The CUDA torch wheel's libtorch.so exports its own copies of some libstdc++ symbols (seen:
# std::filesystem::remove_all, which crashed there). Listing libstdc++ first makes the dynamic
# linker bind every binary of ours to the real ones.
add_link_options(-Wl,--push-state,--no-as-needed,-lstdc++,--pop-state)
