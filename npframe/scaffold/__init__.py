"""``npframe new-plugin``: a new plugin distribution that installs and passes its tests.

``new_plugin(name, kind, directory)`` writes the project: ``pyproject.toml`` with the
``npframe`` entry point, ``src/<package>/`` with the ``npframe_register`` hook and one
working component of ``kind``, tests using ``npframe.testing``, and a README. The
files come from templates in ``templates/`` (package data); ``names`` derives and
checks the plugin's names; ``command`` is the subcommand's parser.
"""

from npframe.scaffold.command import add_parser
from npframe.scaffold.names import PluginNames, ScaffoldError, plugin_names
from npframe.scaffold.render import KINDS
from npframe.scaffold.writer import Scaffold, new_plugin

__all__ = ["KINDS", "PluginNames", "Scaffold", "ScaffoldError", "add_parser", "new_plugin",
           "plugin_names"]
