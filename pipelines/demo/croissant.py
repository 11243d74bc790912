"""Croissant 1.0 (MLCommons, JSON-LD) descriptions of catalogue datasets."""

from __future__ import annotations

import json

from .catalog_data import LICENSE_URLS

CROISSANT_DATASETS = 12  # the first datasets of the catalogue also publish a Croissant description


def croissant_document(dataset: dict) -> bytes:
    """A Croissant 1.0 (MLCommons, JSON-LD) description of one catalogue dataset."""
    doc = {
        "@context": {
            "@language": "en",
            "@vocab": "https://schema.org/",
            "cr": "http://mlcommons.org/croissant/",
            "sc": "https://schema.org/",
        },
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "@id": dataset["id"],
        "identifier": dataset["id"],
        "name": dataset["name"],
        "alternateName": dataset["name_zh"],
        "description": f"{dataset['name']} ({', '.join(dataset['modality'])}), published on OpenDataLab.",
        "creator": {"@type": "sc:Organization", "name": dataset["publisher"]},
        "license": LICENSE_URLS.get(dataset["license"], dataset["license"]),
        "url": f"https://opendatalab.com/{dataset['id']}",
        "version": dataset["version"],
        "dateModified": dataset["updated_at"],
        "inLanguage": dataset["languages"],
        "keywords": dataset["tasks"],
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": "archive",
                "name": f"{dataset['id']}.tar",
                "contentUrl": f"https://opendatalab.com/{dataset['id']}/download",
                "encodingFormat": "application/x-tar",
                "contentSize": f"{dataset['file_bytes']} B",
            }
        ],
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
