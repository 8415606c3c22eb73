from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chunked_uploads", "0004_parallel_ranges"),
    ]

    operations = [
        migrations.AddField(
            model_name="chunkedupload",
            name="concatenation",
            field=models.CharField(
                blank=True,
                choices=[("", "None"), ("partial", "Partial"), ("final", "Final")],
                default="",
                editable=False,
                max_length=7,
                verbose_name="concatenation",
            ),
        ),
        migrations.AddField(
            model_name="chunkedupload",
            name="concat_partials",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="chunkedupload",
            name="concatenated_into",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
    ]
