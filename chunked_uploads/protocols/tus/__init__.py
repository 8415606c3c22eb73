"""The tus 1.0.0 edge: ``TusUploadViewSet`` and ``TusRouter`` over the same core as the native one."""
