"""Stackwise web app (Gradio): the shell and the tabs of each domain."""
