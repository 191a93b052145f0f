"""Print the pins for constraints.txt: the transitive closure of a requirements file in this venv.

    .venv/bin/python .ci/freeze_constraints.py requirements-dev.txt   # then replace the pins in constraints.txt

Like ``pip freeze``, but only what the requirements need (not every tool that happens to be
installed). Environment markers are evaluated for this machine; optional extras are not followed.
"""

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def requirements_in(path: str) -> list[Requirement]:
    """Requirements of a pip requirements file, following ``-r other.txt`` includes."""
    out = []
    for raw in open(path, encoding="utf-8"):
        line = raw.split("#")[0].strip()
        if line.startswith("-r"):
            out += requirements_in(line.split(None, 1)[1])
        elif line and not line.startswith("-"):
            out.append(Requirement(line))
    return out


def closure(requirements: list[Requirement]) -> dict[str, tuple[str, str]]:
    """``{canonical name: (distribution name, installed version)}`` of everything they pull in."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions()}
    pins: dict[str, tuple[str, str]] = {}
    done: set[tuple[str, str]] = set()  # (name, extra) already expanded; "" is the base requirement
    todo = list(requirements)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name not in installed:
            print(f"not installed: {req}", file=sys.stderr)
            continue
        dist = installed[name]
        pins[name] = (dist.metadata["Name"], dist.version)
        for extra in {"", *req.extras} - {e for n, e in done if n == name}:
            done.add((name, extra))
            for spec in dist.requires or []:
                dep = Requirement(spec)
                if dep.marker is None or dep.marker.evaluate({"extra": extra}):
                    todo.append(dep)
    return pins


if __name__ == "__main__":
    for _, (dist_name, version) in sorted(closure(requirements_in(sys.argv[1])).items()):
        print(f"{dist_name}=={version}")
