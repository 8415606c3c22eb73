from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chunked_uploads", "0002_store_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="chunkedupload",
            name="tus_metadata",
            field=models.TextField(
                blank=True, default="", editable=False, verbose_name="tus metadata"
            ),
        ),
    ]
