from django.db import migrations, models


def number_versions(apps, schema_editor):
    """Each method's existing submissions become its versions 1, 2, ... in upload order."""
    Submission = apps.get_model("submissions", "Submission")
    last: dict[int, int] = {}
    for pk, method_id in Submission.objects.order_by("method_id", "created", "id").values_list("pk", "method_id"):
        last[method_id] = last.get(method_id, 0) + 1
        if last[method_id] > 1:
            Submission.objects.filter(pk=pk).update(version=last[method_id])


class Migration(migrations.Migration):

    dependencies = [
        ("leaderboard", "0004_method_paper"),
        ("submissions", "0007_dispatch"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="version",
            field=models.PositiveIntegerField(default=1, help_text="the method's version this upload is: 1, 2, ... in upload order"),
        ),
        migrations.RunPython(number_versions, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="submission",
            constraint=models.UniqueConstraint(fields=("method", "version"), name="one_submission_per_method_version"),
        ),
    ]
