"""Copy the record keys the board groups and averages on every view into columns of their own
(a JSON key read per run cost more than the rest of the board's queries)."""

from django.db import migrations, models

KEYS = ("masks_sha256", "effective_compression", "effective_speedup", "disconnected")


def copy_from_records(apps, schema_editor):
    Run = apps.get_model("submissions", "Run")
    batch = []
    for run in Run.objects.exclude(record={}).only("pk", "record").iterator(chunk_size=2000):
        for key in KEYS:
            value = run.record.get(key)
            setattr(run, key, (value or "") if key == "masks_sha256" else value)
        batch.append(run)
        if len(batch) == 2000:
            Run.objects.bulk_update(batch, KEYS)
            batch = []
    Run.objects.bulk_update(batch, KEYS)


class Migration(migrations.Migration):

    dependencies = [
        ('submissions', '0009_worker_heartbeat'),
    ]

    operations = [
        migrations.AddField(
            model_name='run',
            name='disconnected',
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='run',
            name='effective_compression',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='run',
            name='effective_speedup',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='run',
            name='masks_sha256',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunPython(copy_from_records, migrations.RunPython.noop),
    ]
