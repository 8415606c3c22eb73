from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chunked_uploads", "0003_tus_metadata"),
    ]

    operations = [
        migrations.AddField(
            model_name="chunkedupload",
            name="parallel",
            field=models.BooleanField(default=False, editable=False, verbose_name="parallel"),
        ),
        migrations.AddField(
            model_name="chunkedupload",
            name="parts",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="chunkedupload",
            name="parts_version",
            field=models.BigIntegerField(default=0, editable=False),
        ),
    ]
