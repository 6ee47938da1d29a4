from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('thumbnails', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='thumbnailcount',
            name='failed_count',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='thumbnailcount',
            name='thumbnails_mtime_ns',
            field=models.BigIntegerField(null=True),
        ),
    ]
