# SPDX-License-Identifier: BSD-3-Clause
"""The seed notebook's own code and examples/python/seed_notebook.py (the same
cells with the library's step) print the same text, character for character.

The notebook's code comes from seed_notebook_cells.py, a verbatim copy of its
code cells kept in the repository; where the notebook itself is at hand
(../shared/seed beside the repository), the copy is checked against it.
"""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
CELLS = os.path.join(HERE, "seed_notebook_cells.py")
EXAMPLE = os.path.join(REPOSITORY, "examples", "python", "seed_notebook.py")
NOTEBOOK = os.path.join(REPOSITORY, os.pardir, "shared", "seed", "adagrad_numpy_notebook.txt")
CELL_MARKER = "\n# ---- notebook cell "


def run_script(path):
    """The script's standard output; the environment (PYTHONPATH with the
    package) is inherited."""
    completed = subprocess.run([sys.executable, path], capture_output=True, text=True,
                               check=False)
    if completed.returncode != 0:
        raise AssertionError("{} failed ({}):\n{}".format(path, completed.returncode,
                                                          completed.stderr))
    return completed.stdout


def notebook_code_cells(text):
    """The code cells of the notebook's text export: each follows an
    "In [None]:" line and ends at the next markdown heading or at the end."""
    cells = []
    for chunk in text.split("\nIn [None]:\n")[1:]:
        lines = []
        for line in chunk.split("\n"):
            if line.startswith("## "):
                break
            lines.append(line)
        cells.append("\n".join(lines).strip("\n"))
    return cells


def copied_cells(text):
    return [part.split(" ----\n", 1)[1].rstrip("\n") for part in text.split(CELL_MARKER)[1:]]


class SeedNotebookTest(unittest.TestCase):
    def test_library_prints_what_the_notebook_prints(self):
        notebook_output = run_script(CELLS)
        library_output = run_script(EXAMPLE)
        self.assertIn("Step 5", notebook_output)
        self.assertEqual(library_output, notebook_output)

    def test_cells_are_verbatim(self):
        if not os.path.exists(NOTEBOOK):
            self.skipTest("the seed notebook is not at " + NOTEBOOK)
        with open(NOTEBOOK, encoding="utf-8") as notebook, \
                open(CELLS, encoding="utf-8") as copy:
            expected = notebook_code_cells(notebook.read())
            actual = copied_cells(copy.read())
        self.assertEqual(len(actual), len(expected))
        for index, (cell, original) in enumerate(zip(actual, expected), start=1):
            self.assertEqual(cell, original, "notebook cell %d" % index)


if __name__ == "__main__":
    unittest.main()
