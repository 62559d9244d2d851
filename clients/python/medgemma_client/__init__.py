"""medgemma-serve from Python: `Client` for the common calls; the generated stubs and messages are
`medgemma.v1.classifier_pb2(_grpc)` and `medgemma.v1.trainer_pb2(_grpc)` for everything else."""
from medgemma_client.client import Client

__all__ = ["Client"]
