# VinDr-CXR lesion localization, head-only fine-tuning (paper Fig. 3): the
# pretrained backbone, neck and encoder are frozen; only the new decoder trains.
_base_ = ['./fx_ft_vindr_lesions_full.py']
model = dict(frozen=('backbone', 'loc.neck', 'loc.encoder'))
