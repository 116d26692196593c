#!/usr/bin/python3
"""A small GTK window that offers files as a drag source (text/uri-list), for the end-to-end
test: xdotool drags from it onto Lectern's window, so the app receives a real OS-level drop.

Usage: drag_source.py X Y FILE...   (prints "ready" once the window is on screen)
"""
import sys
from pathlib import Path

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402


def main() -> None:
    x, y = int(sys.argv[1]), int(sys.argv[2])
    uris = [Path(f).resolve().as_uri() for f in sys.argv[3:]]
    window = Gtk.Window(title="drag source")
    window.set_default_size(240, 120)
    window.move(x, y)
    box = Gtk.EventBox()
    box.add(Gtk.Label(label="drag me: " + ", ".join(Path(f).name for f in sys.argv[3:])))
    box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
    box.drag_source_add_uri_targets()

    def on_get(_widget, _context, data, _info, _time):
        data.set_uris(uris)

    box.connect("drag-data-get", on_get)
    window.add(box)
    window.connect("destroy", Gtk.main_quit)
    window.show_all()

    def announce():
        print("ready", flush=True)
        return False

    GLib.timeout_add(300, announce)
    Gtk.main()


if __name__ == "__main__":
    main()
