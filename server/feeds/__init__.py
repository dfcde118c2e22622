"""Observable data feeds: what a real deployment receives from other systems.

Registration, annual reports, penalties and lists come from the market-regulation
registry; complaints from 12315; sampling tests from the testing agencies; special
equipment, measuring instruments and certificates from their registers; prices, adverts
and online-shop metrics from monitoring. The simulator writes its synthetic feeds into
these same tables; models read features computed from them and nothing else.
"""
