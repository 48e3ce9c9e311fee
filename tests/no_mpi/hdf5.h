/* A stand-in that stops the compiler: the reader_without_mpi test puts this folder
 * first on the include path, so a read-only source that includes hdf5.h (parallel HDF5's
 * pulls in mpi.h) fails to build. */
#error "hdf5.h included by a source that must build without HDF5 (see tests/reader_header.c)"
