# TBX11K's TB-positive images only (e.g. ../shared/data/tbx11k_tb_subset:
# imgs/tb and the official JSONs listing them), converted with `python -m
# data_prep tbx11k --src DOWNLOAD --out data/tbx11k_tb`. Localization only:
# with no TB-negative image a Tuberculosis classifier has nothing to tell
# apart, so the converter writes no cls labels for such a download
# (meta.json `cls_omitted`). The full release uses tbx11k.py.
tbx11k_tb_subset = dict(
    name='TBX11K', data_root='data/tbx11k_tb', loc=dict(classes=['TB']))
