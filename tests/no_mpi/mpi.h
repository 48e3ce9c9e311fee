/* A stand-in that stops the compiler: the reader_without_mpi test puts this folder
 * first on the include path, so a read-only source that includes mpi.h fails to build. */
#error "mpi.h included by a source that must build without MPI (see tests/reader_header.c)"
