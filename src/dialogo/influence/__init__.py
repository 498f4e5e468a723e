"""Word of mouth: interaction graph, influencer ranking, advocates, cascades, UGC."""
