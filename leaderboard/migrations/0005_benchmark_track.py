from django.db import migrations, models


def fill_base(apps, schema_editor):
    Benchmark = apps.get_model("leaderboard", "Benchmark")
    Benchmark.objects.filter(base="").update(base=models.F("name"))


class Migration(migrations.Migration):
    """Benchmarks become run targets, a benchmark on one track: "digits-mlp", "digits-mlp/init"
    (not a slug any more). Existing rows are the after-training track of themselves."""

    dependencies = [
        ('leaderboard', '0004_method_paper'),
    ]

    operations = [
        migrations.AlterField(
            model_name='benchmark',
            name='name',
            field=models.CharField(max_length=64, unique=True),
        ),
        migrations.AddField(
            model_name='benchmark',
            name='track',
            field=models.CharField(default='after', help_text='the comparison setup (evaluator/tracks.py)', max_length=32),
        ),
        migrations.AddField(
            model_name='benchmark',
            name='base',
            field=models.CharField(blank=True, help_text='the benchmark this is a track of', max_length=64),
        ),
        migrations.RunPython(fill_base, migrations.RunPython.noop),
    ]
