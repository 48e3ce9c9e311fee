# Spack package recipe for bpsweep: put packaging/spack in a Spack repository
# (`spack repo add packaging/spack`), then `spack install bpsweep`.
#
# Written against Spack v0.23 (the `spack.package` API: CMakePackage, variant,
# depends_on, self.define, self.define_from_variant), which Spack 1.x keeps. It cannot be
# run here; tests/spack_recipe.py imports it with stand-ins for that API and configures
# the project with the arguments it produces.
from spack.package import *  # noqa: F401,F403


class Bpsweep(CMakePackage):
    """MPI-distributed hyperparameter sweeps for deep-learning-theory experiments:
    thousands of small, reproducible training runs (an OpenBLAS trainer in C) written
    into one parallel HDF5 results file, resumable across Slurm jobs."""

    homepage = "https://github.com/bpsweep/bpsweep"
    git = "https://github.com/bpsweep/bpsweep.git"

    license("MIT")

    version("main", branch="main")

    variant("python", default=True,
            description="Install the Python reader (package bpsweep) and the analysis scripts' "
                        "dependencies (h5py, numpy, matplotlib, pandas)")
    variant("werror", default=False,
            description="Treat compiler warnings as errors (what the project's CI does)")

    depends_on("c", type="build")
    depends_on("cmake@3.18:", type="build")
    depends_on("pkgconfig", type="build")

    depends_on("mpi")
    depends_on("hdf5+mpi")  # one results file written by every rank
    # openblas_get_config() and openblas_set_num_threads() are used, not only the BLAS API;
    # LAPACKE (eigenvalues, SVDs) comes with OpenBLAS's LAPACK
    depends_on("openblas+lapack threads=none")
    depends_on("cjson")
    depends_on("fftw~mpi precision=double")  # convolution operator spectra
    depends_on("zlib-api")

    with when("+python"):
        extends("python")
        depends_on("py-h5py", type="run")
        depends_on("py-numpy", type="run")
        depends_on("py-matplotlib", type="run")
        depends_on("py-pandas", type="run")

    def cmake_args(self):
        args = [
            self.define_from_variant("BPSWEEP_WERROR", "werror"),
            # tests need the project's test data and PyTorch; Spack builds the tool
            self.define("BUILD_TESTING", False),
        ]
        if self.spec.satisfies("+python"):
            # relative to the prefix, where this Python looks (Spack's python_platlib)
            args.append(self.define("BPSWEEP_PYTHON_SITEDIR", python_platlib))
        return args
