#!/usr/bin/python3
"""The Spack recipe (packaging/spack/packages/bpsweep/package.py), tested without Spack:
it imports against stand-ins for the `spack.package` API it uses (recording its
directives), declares the dependencies the build needs, and its cmake_args for the spec
`bpsweep+werror` hold the options CI configures with (.ci/setup.sh); then CMake
configures the project with exactly those arguments.

usage: spack_recipe.py SOURCE_DIR SCRATCH_DIR"""
import os
import re
import subprocess
import sys
import types

src, scratch = sys.argv[1], sys.argv[2]
directives = {"version": [], "variant": {}, "depends_on": [], "extends": [], "license": []}
when_stack = []


def record(kind):
    def directive(*args, **kw):
        if when_stack:
            kw = dict(kw, when=when_stack[-1])
        if kind == "variant":
            directives["variant"][args[0]] = kw
        else:
            directives[kind].append((args, kw))
    return directive


class When:
    def __init__(self, cond):
        self.cond = cond

    def __enter__(self):
        when_stack.append(self.cond)

    def __exit__(self, *exc):
        when_stack.pop()


class FakeSpec:
    def __init__(self, variants):
        self.variants = variants

    def satisfies(self, constraint):
        m = re.fullmatch(r"([+~])(\w+)", constraint)
        assert m, f"the stand-in only knows +variant/~variant, not {constraint!r}"
        return self.variants[m.group(2)] == (m.group(1) == "+")


class CMakePackage:
    """Spack's CMakePackage: define() and define_from_variant() as documented."""

    def __init__(self, spec, prefix):
        self.spec, self.prefix = spec, prefix

    @staticmethod
    def define(name, value):
        if isinstance(value, bool):
            value = "ON" if value else "OFF"
        kind = "BOOL" if value in ("ON", "OFF") else "STRING"
        return f"-D{name}:{kind}={value}"

    def define_from_variant(self, name, variant):
        return self.define(name, self.spec.variants[variant])


pkg = types.ModuleType("spack.package")
for kind in directives:
    setattr(pkg, kind, record(kind))
pkg.when = When
pkg.CMakePackage = CMakePackage
pkg.join_path = os.path.join
pkg.python_platlib = "lib/python3.11/site-packages"
pkg.__all__ = [n for n in vars(pkg) if not n.startswith("_")]
sys.modules["spack"] = types.ModuleType("spack")
sys.modules["spack.package"] = pkg

recipe = os.path.join(src, "packaging", "spack", "packages", "bpsweep", "package.py")
namespace = {"__name__": "bpsweep_recipe"}
exec(compile(open(recipe).read(), recipe, "exec"), namespace)
Bpsweep = namespace["Bpsweep"]
failures = []

# the dependencies the build finds (CMakeLists.txt): MPI, parallel HDF5, OpenBLAS with
# LAPACK(E), cJSON, FFTW, zlib
deps = [a[0] for a, _ in directives["depends_on"]]
for want in ("mpi", "hdf5+mpi", "openblas+lapack threads=none", "cjson", "zlib-api",
             "cmake@3.18:"):
    if want not in deps:
        failures.append(f"no depends_on({want!r}) (has {deps})")
if not any(d.startswith("fftw") for d in deps):
    failures.append("no FFTW dependency")
if set(directives["variant"]) != {"python", "werror"}:
    failures.append(f"variants {sorted(directives['variant'])}")

# +werror: CI's options
ci = open(os.path.join(src, ".ci", "setup.sh")).read()
ci_flags = re.findall(r"-D(\w+)=(\w+)", re.search(r"build\(\) \{.*?\n\}", ci, re.S).group(0))
args = Bpsweep(FakeSpec({"python": True, "werror": True}), "/opt/bpsweep").cmake_args()
given = {m.group(1): m.group(2) for m in (re.fullmatch(r"-D(\w+):\w+=(.*)", a) for a in args)}
for name, value in ci_flags:
    if given.get(name) != value:
        failures.append(f"CI configures -D{name}={value}; the recipe gives {given.get(name)}")
if given.get("BPSWEEP_PYTHON_SITEDIR") != pkg.python_platlib:
    failures.append(f"BPSWEEP_PYTHON_SITEDIR {given.get('BPSWEEP_PYTHON_SITEDIR')}")
plain = Bpsweep(FakeSpec({"python": False, "werror": False}), "/opt/bpsweep").cmake_args()
if "-DBPSWEEP_WERROR:BOOL=OFF" not in plain or any("PYTHON" in a for a in plain):
    failures.append(f"~werror~python gives {plain}")

# every variable the recipe sets is one the project declares, and CMake configures with them
cmakelists = open(os.path.join(src, "CMakeLists.txt")).read()
for name in given:
    if name != "BUILD_TESTING" and not re.search(rf"(option|set)\({name}\b", cmakelists):
        failures.append(f"the recipe sets {name}, which CMakeLists.txt does not declare")
r = subprocess.run(["cmake", "-S", src, "-B", scratch, "-DCMAKE_INSTALL_PREFIX=/opt/bpsweep",
                    *args], capture_output=True, text=True)
if r.returncode != 0:
    failures.append("cmake with the recipe's arguments failed:\n" + r.stderr[-2000:])
else:
    cache = open(os.path.join(scratch, "CMakeCache.txt")).read()
    for name, value in given.items():
        if not re.search(rf"^{name}:\w+={re.escape(value)}$", cache, re.M):
            failures.append(f"{name} is not {value} in the configured cache")

for f in failures:
    print("FAIL:", f)
print(f"recipe: {len(deps)} dependencies, variants {sorted(directives['variant'])}, "
      f"cmake_args {args}")
sys.exit(1 if failures else 0)
