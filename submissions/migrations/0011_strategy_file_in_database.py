"""Uploads move from the media folder into the database (StrategyFile), so that workers on other
hosts need no shared disk. Every stored file is copied, checked against its SHA-256, before the
column that named it goes; the files themselves are left where they were. Reversed, the bytes
are written back to the media folder."""

import hashlib

import django.db.models.deletion
from django.core.files.base import ContentFile
from django.db import migrations, models


def files_into_database(apps, schema_editor):
    Submission = apps.get_model("submissions", "Submission")
    StrategyFile = apps.get_model("submissions", "StrategyFile")
    for submission in Submission.objects.exclude(file="").iterator():
        with submission.file.open("rb") as f:  # a missing file stops the migration: nothing is lost
            data = f.read()
        if hashlib.sha256(data).hexdigest() != submission.sha256:
            raise RuntimeError(f"{submission.file.name} of submission {submission.pk} does not match "
                               f"its SHA-256; restore it before migrating")
        StrategyFile.objects.create(submission=submission, data=data)


def files_back_to_disk(apps, schema_editor):
    StrategyFile = apps.get_model("submissions", "StrategyFile")
    for stored in StrategyFile.objects.select_related("submission").iterator():
        submission = stored.submission
        submission.file.save(f"{submission.sha256}.py", ContentFile(bytes(stored.data)), save=True)


class Migration(migrations.Migration):

    dependencies = [
        ('submissions', '0010_run_record_columns'),
    ]

    operations = [
        migrations.CreateModel(
            name='StrategyFile',
            fields=[
                ('submission', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='strategy_file', serialize=False, to='submissions.submission')),
                ('data', models.BinaryField()),
            ],
        ),
        migrations.RunPython(files_into_database, files_back_to_disk),
        migrations.RemoveField(
            model_name='submission',
            name='file',
        ),
    ]
