"""ScanNet v2 ingestion: scene folders (raw release or exported frames) → SceneMeta, and meta.json in and out.

Entry points: ``pipeline.build_scene_meta(scene_dir, ScanNetSettings)``, ``pipeline.ingest_scenes`` (many scenes,
failures recorded), ``pipeline.read_color_frames`` (decode chosen colour frames), ``meta.load_meta_file`` (ours and
the released VSI-Bench meta-info), geometry in ``geometry``. Importing this package loads nothing heavy.
"""
