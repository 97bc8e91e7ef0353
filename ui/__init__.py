"""The page's parts, one module per tab (Gradio's way to split a large Blocks app).

Each tab module has a ``build(lab)`` that lays its tab out inside the caller's ``gr.Blocks``, wires its own
events and returns the components and events other tabs wire to; its handlers are module-level functions on
plain values, the Lab first, that tests call without a server. ``checks`` refuses bad input and reads what a
page or a program sent; ``page`` holds the page's CSS, scripts and launch options; ``plots`` draws figures.
``app.py`` composes the tabs and launches them. Nothing here runs on import.
"""
