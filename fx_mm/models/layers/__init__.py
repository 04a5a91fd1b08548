from .refining_dino_decoder import RefiningDinoTransformerDecoder

__all__ = ['RefiningDinoTransformerDecoder']
