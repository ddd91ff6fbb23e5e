"""Descriptions are rendered when saved (Method.description_html; leaderboard/markdown.py), so
every existing method's is rendered here, once. The caps on description and BibTeX are
validation only (no column changes); a longer text stays as it was until edited."""

import django.core.validators
from django.db import migrations, models


def render_descriptions(apps, schema_editor):
    from leaderboard.markdown import render

    Method = apps.get_model("leaderboard", "Method")
    for pk, description in list(Method.objects.exclude(description="").values_list("pk", "description")):
        Method.objects.filter(pk=pk).update(description_html=render(description))


class Migration(migrations.Migration):

    dependencies = [
        ('leaderboard', '0006_method_builtin_name'),
    ]

    operations = [
        migrations.AddField(
            model_name='method',
            name='description_html',
            field=models.TextField(blank=True, editable=False, help_text='the description rendered and sanitized (leaderboard/markdown.py)'),
        ),
        migrations.AlterField(
            model_name='method',
            name='bibtex',
            field=models.TextField(blank=True, help_text='one BibTeX entry, validated; shown escaped', max_length=20000, validators=[django.core.validators.MaxLengthValidator(20000)]),
        ),
        migrations.AlterField(
            model_name='method',
            name='description',
            field=models.TextField(blank=True, help_text='Markdown; rendered safely when saved', max_length=20000, validators=[django.core.validators.MaxLengthValidator(20000)]),
        ),
        migrations.RunPython(render_descriptions, migrations.RunPython.noop),
    ]
