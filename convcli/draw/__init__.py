"""Drawing: pictures of a convolution (SVG, PNG, GIF) and plots, beside ``convcli.render``.

The optional ``[draw]`` extra's libraries (Pillow, matplotlib) are imported only here.
"""
