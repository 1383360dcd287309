# Every external dependency, all from Debian 12 packages (scripts/install_deps.sh installs them).
find_package(OpenMP REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(MATIO REQUIRED IMPORTED_TARGET matio)
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
# Keras models (.h5): libhdf5-dev, which libmatio-dev already depends on.
pkg_check_modules(HDF5 REQUIRED IMPORTED_TARGET hdf5)
# Keras 3's .keras archives: the weights file inside is opened in memory (H5LTopen_file_image).
find_library(HDF5_HL_LIBRARY NAMES hdf5_hl hdf5_serial_hl HINTS ${HDF5_LIBRARY_DIRS} REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
# Header-only linear algebra for the surrogate models of LIME and KernelSHAP.
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
# ONNX's CMake config does not find protobuf itself: protobuf first.
find_package(Protobuf REQUIRED)
find_package(ONNX CONFIG REQUIRED)
if(LRP_WITH_DNNL)
  # oneDNN's own CMake config demands OpenCL packages; the plain library is enough.
  find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
  find_library(DNNL_LIBRARY dnnl REQUIRED)
  add_library(lrp_dnnl INTERFACE)
  target_include_directories(lrp_dnnl SYSTEM INTERFACE ${DNNL_INCLUDE_DIR})
  target_link_libraries(lrp_dnnl INTERFACE ${DNNL_LIBRARY})
endif()
if(LRP_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(LRP_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
