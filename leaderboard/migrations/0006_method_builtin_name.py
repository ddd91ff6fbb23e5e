"""Built-ins are found by their registry name, no longer by slug: a built-in made before this
(no owner, flagged baseline or reference, slug "<tier>-<name>") gets builtin_name = <name>. An
entry that took such a slug stays an entry (its owner, no flag) and keeps its slug."""

from django.conf import settings
from django.db import migrations, models


def name_the_builtins(apps, schema_editor):
    Method = apps.get_model("leaderboard", "Method")
    for method in Method.objects.filter(owner__isnull=True).filter(models.Q(is_baseline=True) | models.Q(is_reference=True)):
        prefix = "baseline-" if method.is_baseline else "reference-"
        if method.slug.startswith(prefix):
            method.builtin_name = method.slug.removeprefix(prefix)
            method.save(update_fields=["builtin_name"])


class Migration(migrations.Migration):

    dependencies = [
        ('leaderboard', '0005_benchmark_track'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='method',
            name='builtin_name',
            field=models.CharField(blank=True, default='', editable=False, help_text="a built-in's name in the evaluator's registry ('random', 'lamp'); empty for an entry", max_length=64),
        ),
        migrations.RunPython(name_the_builtins, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='method',
            constraint=models.UniqueConstraint(condition=models.Q(('builtin_name', ''), _negated=True), fields=('builtin_name',), name='method_builtin_unique'),
        ),
    ]
