"""``unseen review``: a local page on which a person checks a plan, keeps or
masks each face, adds what the detectors missed, and exports the result
through the same verified path as ``unseen apply``.

:mod:`.session` holds the review (the plan and its changes, the pictures,
the export); :mod:`.server` serves it to the page in ``static/``.
"""
