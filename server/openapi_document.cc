#include "server/openapi_document.h"

namespace medgemma::server {

const std::string& OpenApiDocument() {
  static const std::string document = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "medgemma-server HTTP/JSON",
    "version": "1",
    "description": "Breast histopathology classification. The Open Inference Protocol (KServe v2) REST endpoints, with Triton's binary tensor data extension, and a plain POST /v1/classify. Adapters are versions of the one model (empty version: the server's default adapter). Errors are {\"error\": message}."
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
      "Tensor": {
        "type": "object",
        "required": ["name", "datatype", "shape"],
        "properties": {
          "name": {"type": "string"},
          "datatype": {"type": "string", "enum": ["BYTES", "UINT8", "FP32", "INT32"]},
          "shape": {"type": "array", "items": {"type": "integer"}},
          "parameters": {"type": "object", "additionalProperties": true},
          "data": {"type": "array", "items": {}}
        }
      },
      "TensorMetadata": {
        "type": "object",
        "required": ["name", "datatype", "shape"],
        "properties": {
          "name": {"type": "string"},
          "datatype": {"type": "string"},
          "shape": {"type": "array", "items": {"type": "integer"}}
        }
      },
      "InferenceRequest": {
        "type": "object",
        "required": ["inputs"],
        "properties": {
          "id": {"type": "string"},
          "parameters": {"type": "object", "additionalProperties": true},
          "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
          "outputs": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["name"],
              "properties": {"name": {"type": "string"}, "parameters": {"type": "object", "additionalProperties": true}}
            }
          }
        }
      },
      "InferenceResponse": {
        "type": "object",
        "required": ["model_name", "outputs"],
        "properties": {
          "model_name": {"type": "string"},
          "model_version": {"type": "string"},
          "id": {"type": "string"},
          "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}}
        }
      },
      "ModelMetadata": {
        "type": "object",
        "required": ["name", "versions", "platform", "inputs", "outputs"],
        "properties": {
          "name": {"type": "string"},
          "versions": {"type": "array", "items": {"type": "string"}},
          "platform": {"type": "string"},
          "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/TensorMetadata"}},
          "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/TensorMetadata"}}
        }
      },
      "ClassifyRequest": {
        "type": "object",
        "description": "image_base64 or dicom_base64, not both",
        "properties": {
          "image_base64": {"type": "string", "description": "PNG, JPEG, TIFF or BMP bytes, base64"},
          "dicom_base64": {"type": "string", "description": "a DICOM Part 10 file, base64"},
          "frame": {"type": "integer", "minimum": 0, "description": "DICOM: the 1-based frame; 0 or absent: the only frame, or every frame of a multi-frame file (answered as ClassifyResponses)"},
          "adapter": {"type": "string", "description": "empty: the server's default adapter"},
          "request_id": {"type": "string"}
        }
      },
      "ClassifyResponse": {
        "type": "object",
        "description": "medgemma.v1.ClassifyResponse's fields",
        "properties": {
          "request_id": {"type": "string"},
          "label": {"type": "integer"},
          "label_name": {"type": "string"},
          "confidence": {"type": "number"},
          "probabilities": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {"label": {"type": "integer"}, "name": {"type": "string"}, "probability": {"type": "number"}}
            }
          },
          "group": {"type": "string"},
          "group_probability": {"type": "number"},
          "model_id": {"type": "string"},
          "adapter": {"type": "string"},
          "adapter_version": {"type": "string"},
          "timing": {"type": "object", "additionalProperties": {"type": "number"}},
          "batch_size": {"type": "integer"},
          "error": {
            "type": "object",
            "description": "in ClassifyResponses only: this frame failed (google.rpc code and message)",
            "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}
          },
          "dicom": {
            "type": "object",
            "properties": {
              "study_instance_uid": {"type": "string"},
              "series_instance_uid": {"type": "string"},
              "sop_instance_uid": {"type": "string"},
              "frame": {"type": "integer"},
              "frames": {"type": "integer"}
            }
          }
        }
      },
      "ClassifyResponses": {
        "type": "object",
        "description": "every frame of a multi-frame DICOM file sent without a frame, in frame order",
        "required": ["responses"],
        "properties": {"responses": {"type": "array", "items": {"$ref": "#/components/schemas/ClassifyResponse"}}}
      }
    },
    "responses": {
      "Error": {"description": "the request was refused or failed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "parameters": {
      "model": {"name": "model", "in": "path", "required": true, "schema": {"type": "string"}},
      "version": {"name": "version", "in": "path", "required": true, "schema": {"type": "string"}, "description": "an adapter's name"}
    }
  },
  "security": [{"bearer": []}],
  "paths": {
    "/v2/health/live": {
      "get": {"summary": "liveness", "security": [], "responses": {"200": {"description": "live"}}}
    },
    "/v2/health/ready": {
      "get": {"summary": "readiness", "security": [], "responses": {"200": {"description": "ready"}, "503": {"description": "not ready (shutting down)"}}}
    },
    "/v2": {
      "get": {"summary": "server metadata", "responses": {"200": {"description": "name, version, extensions"}, "default": {"$ref": "#/components/responses/Error"}}}
    },
    "/v2/models/{model}": {
      "parameters": [{"$ref": "#/components/parameters/model"}],
      "get": {"summary": "model metadata", "responses": {"200": {"description": "metadata", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelMetadata"}}}}, "default": {"$ref": "#/components/responses/Error"}}}
    },
    "/v2/models/{model}/ready": {
      "parameters": [{"$ref": "#/components/parameters/model"}],
      "get": {"summary": "model readiness", "responses": {"200": {"description": "ready"}, "default": {"$ref": "#/components/responses/Error"}}}
    },
    "/v2/models/{model}/config": {
      "parameters": [{"$ref": "#/components/parameters/model"}],
      "get": {"summary": "Triton model configuration", "responses": {"200": {"description": "configuration"}, "default": {"$ref": "#/components/responses/Error"}}}
    },
    "/v2/models/{model}/infer": {
      "parameters": [{"$ref": "#/components/parameters/model"}],
      "post": {
        "summary": "inference on the default adapter: image as BYTES [N] (encoded; parameters.content_type base64 for base64 strings) or UINT8 [H,W,3] / [N,H,W,3]; outputs probabilities FP32 [N,labels], label INT32 [N], label_name BYTES [N]",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}},
        "responses": {"200": {"description": "outputs", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceResponse"}}}}, "default": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v2/models/{model}/versions/{version}/infer": {
      "parameters": [{"$ref": "#/components/parameters/model"}, {"$ref": "#/components/parameters/version"}],
      "post": {
        "summary": "inference on the adapter named by the version",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}},
        "responses": {"200": {"description": "outputs", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceResponse"}}}}, "default": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/classify": {
      "post": {
        "summary": "classify one image, or every frame of a multi-frame DICOM file",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ClassifyRequest"}},
            "multipart/form-data": {
              "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {"image": {"type": "string", "format": "binary"}, "adapter": {"type": "string"}, "request_id": {"type": "string"}}
              }
            }
          }
        },
        "responses": {
          "200": {"description": "the classification (one per frame for a multi-frame DICOM file without a frame)", "content": {"application/json": {"schema": {"oneOf": [{"$ref": "#/components/schemas/ClassifyResponse"}, {"$ref": "#/components/schemas/ClassifyResponses"}]}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "default": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/openapi.json": {
      "get": {"summary": "this document", "security": [], "responses": {"200": {"description": "OpenAPI 3 document"}}}
    }
  }
})json";
  return document;
}

}  // namespace medgemma::server
