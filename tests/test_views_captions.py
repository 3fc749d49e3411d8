"""Captions of the view definitions that summarise many rows (plain pytest, hand-made frames)."""

import pandas as pd

from views.overview import expected_caption

BASIS = "Fitted on Jan 2017–Feb 2020 (38 months); left out Mar 2020–Dec 2020 (COVID-19 restrictions)."


def test_expected_caption_names_each_fit_basis_once_with_its_measures():
    card = pd.DataFrame({"expected_basis": [BASIS, BASIS, "", "Needs 24 months of history, 3 available.", BASIS]})
    caption = expected_caption(card)
    assert caption.count("Fitted on Jan 2017–Feb 2020") == 1
    assert ("Fitted on Jan 2017–Feb 2020 (38 months); left out Mar 2020–Dec 2020 (COVID-19 restrictions) "
            "(3 measures).") in caption
    assert "Needs 24 months of history, 3 available (1 measure)." in caption


def test_expected_caption_without_any_model():
    caption = expected_caption(pd.DataFrame({"expected_basis": ["", ""]}))
    assert caption.endswith("No expected range where fewer than 24 months of history precede the current period.")
