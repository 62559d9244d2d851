"""A thin wrapper over the generated stubs: the channel (TLS when given a CA), the bearer token on
every call, and deadlines."""
from typing import Iterable, Iterator, Optional

import grpc

from medgemma.v1 import classifier_pb2, classifier_pb2_grpc


class Client:
    """medgemma-server's Classifier (and, on its admin port, AdapterAdmin).

        with Client("pacs-gw.example.org:8500", token=open("classify-token").read().strip(),
                    tls_ca=open("ca.crt", "rb").read()) as client:
            print(client.classify(open("slide.png", "rb").read()).label_name)
    """

    def __init__(self, address: str, token: Optional[str] = None, tls_ca: Optional[bytes] = None,
                 timeout: float = 60.0):
        options = [("grpc.max_send_message_length", 64 << 20)]
        if tls_ca is not None:
            self._channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=tls_ca), options)
        else:
            self._channel = grpc.insecure_channel(address, options)
        self._metadata = [("authorization", f"Bearer {token}")] if token else []
        self._timeout = timeout
        self.classifier = classifier_pb2_grpc.ClassifierStub(self._channel)
        self.admin = classifier_pb2_grpc.AdapterAdminStub(self._channel)

    def classify(self, image: bytes, adapter: str = "", request_id: str = "") -> classifier_pb2.ClassifyResponse:
        """One image (PNG, JPEG, TIFF, ... as encoded bytes); `adapter` empty: the server's default."""
        request = classifier_pb2.ClassifyRequest(request_id=request_id, adapter=adapter,
                                                 image=classifier_pb2.Image(encoded=image))
        return self.classifier.Classify(request, metadata=self._metadata, timeout=self._timeout)

    def classify_stream(self, images: Iterable[bytes], adapter: str = "") -> Iterator[classifier_pb2.ClassifyResponse]:
        """Many images on one stream (the server batches across it); answers carry request_id = the
        image's index, possibly out of order."""
        requests = (classifier_pb2.ClassifyRequest(request_id=str(i), adapter=adapter,
                                                   image=classifier_pb2.Image(encoded=image))
                    for i, image in enumerate(images))
        return self.classifier.ClassifyStream(requests, metadata=self._metadata, timeout=self._timeout)

    def model_info(self) -> classifier_pb2.ModelInfo:
        return self.classifier.GetModelInfo(classifier_pb2.GetModelInfoRequest(), metadata=self._metadata,
                                            timeout=self._timeout)

    def load_adapter(self, name: str, path: str, set_default: bool = False) -> classifier_pb2.AdapterInfo:
        """AdapterAdmin.LoadAdapter (admin token; the server's admin port where it has one)."""
        request = classifier_pb2.LoadAdapterRequest(name=name, path=path, set_default=set_default)
        return self.admin.LoadAdapter(request, metadata=self._metadata, timeout=self._timeout)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
