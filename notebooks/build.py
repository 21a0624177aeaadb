"""Write the curriculum notebooks from their Python sources and execute them.

Each notebook is written as a plain Python file in ``notebooks/source/`` in Jupytext's
"percent" format (``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell), so it
is easy to edit and to review. Jupytext reads the sources; each notebook records the
pairing (``ipynb,source//py:percent``), so ``jupytext --sync`` works on it too. A cell
tagged ``# %% tags=["interactive"]`` is run but its outputs are not stored (a widget means
nothing on a code host).

Usage, from the repository root::

    python notebooks/build.py               # write and execute every notebook
    python notebooks/build.py 03 05         # only the notebooks whose names start so
    python notebooks/build.py --no-execute  # write the cells only (no outputs)

The kernel imports ``tinygrad_edu`` from this checkout (its root is put on PYTHONPATH).
``tests/test_notebooks.py`` imports this module to read and execute in the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from tinygrad_edu.files import write_atomically

NOTEBOOKS = Path(__file__).resolve().parent
SOURCES = NOTEBOOKS / "source"
REPOSITORY = NOTEBOOKS.parent
KERNEL = "python3"
CELL_TIMEOUT_SECONDS = 120
# A cell with this tag runs, but its outputs are dropped (see the module docstring).
INTERACTIVE = "interactive"
# Where Jupytext finds each notebook's source, relative to the notebook.
PAIRING = "ipynb,source//py:percent"


def notebook_from_source(source: Path) -> nbformat.NotebookNode:
    """A notebook (without outputs) holding the cells of ``source``, read by Jupytext."""
    notebook = jupytext.read(source, fmt="py:percent")
    for index, cell in enumerate(notebook.cells):
        # Stable ids: rebuilding an unchanged notebook changes nothing in git.
        cell.id = hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()[:12]
    notebook.metadata = {
        "kernelspec": {
            "name": KERNEL,
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        },
        "jupytext": {"formats": PAIRING},
    }
    return notebook


def kernel_environment() -> dict[str, str]:
    """This process's environment, with the checkout's root first on PYTHONPATH."""
    environment = dict(os.environ)
    paths = [str(REPOSITORY), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    environment["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # quiets the debugger's start-up warning
    return environment


def execute(notebook: nbformat.NotebookNode, timeout: int = CELL_TIMEOUT_SECONDS) -> float:
    """Run ``notebook`` in place in a fresh kernel, from the notebooks folder; return seconds.

    Raises ``nbclient.exceptions.CellExecutionError`` when a cell fails.
    """
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=timeout,
        record_timing=False,  # no timestamps in the files: a rebuild is a clean diff
        coalesce_streams=True,  # one stdout block per cell, however the kernel flushed it
        # The slider's outputs are not stored, so its state (random ids) would only add noise.
        store_widget_state=False,
        # C-level writes (a font library warning when Graphviz starts) stay out of the cells.
        extra_arguments=["--IPKernelApp.capture_fd_output=False"],
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    started = time.perf_counter()
    client.execute(env=kernel_environment())
    return time.perf_counter() - started


def drop_interactive_outputs(notebook: nbformat.NotebookNode) -> None:
    """Empty the outputs of cells tagged interactive (a slider cannot be stored)."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and INTERACTIVE in cell.metadata.get("tags", []):
            cell.outputs = []


def write_notebook(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write ``notebook`` to ``path`` atomically, with the package's one file writer."""
    nbformat.validate(notebook)
    text = nbformat.writes(notebook)
    write_atomically(path, text if text.endswith("\n") else text + "\n")


def build(source: Path, run: bool) -> float | None:
    """Write the notebook for ``source`` next to the sources' folder; execute it if asked."""
    notebook = notebook_from_source(source)
    seconds = None
    if run:
        seconds = execute(notebook)
        drop_interactive_outputs(notebook)
    write_notebook(notebook, NOTEBOOKS / f"{source.stem}.ipynb")
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Build the notebooks named on the command line (all by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="build only notebooks starting with these")
    parser.add_argument("--no-execute", action="store_true", help="write cells, no outputs")
    args = parser.parse_args(argv)
    sources = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    chosen = [s for s in sources if not args.prefixes or s.name.startswith(tuple(args.prefixes))]
    if not chosen:
        parser.error(f"no source in {SOURCES} starts with {' or '.join(args.prefixes)}")
    for source in chosen:
        seconds = build(source, run=not args.no_execute)
        timing = "" if seconds is None else f" ({seconds:.1f} s)"
        print(f"wrote {source.stem}.ipynb{timing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
