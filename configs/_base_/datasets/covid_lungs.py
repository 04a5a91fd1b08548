# The real chest X-ray sample bundled with fx_mm (data_prep/bundled/
# covid_lungs; prepare it with `python -m data_prep covid_lungs --src
# data_prep/bundled/covid_lungs --out data/covid_lungs`): COVID-19 label,
# right / left lung boxes, lung masks.
covid_lungs = dict(
    name='CovidLungs',
    data_root='data/covid_lungs',
    cls=dict(classes=['COVID-19']),
    loc=dict(classes=['Right Lung', 'Left Lung']),
    seg=dict(classes=['Lungs']))
