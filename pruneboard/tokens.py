"""A user's API token (docs/api.md): seen and renewed on the account's token page
(/accounts/token/), as `POST /api/token/` gets it and `DELETE /api/token/` revokes it."""

from django.db import transaction
from rest_framework.authtoken.models import Token


def token_of(*, user) -> Token:
    """The user's token, made on first use (the same one `POST /api/token/` answers)."""
    return Token.objects.get_or_create(user=user)[0]


def token_renew(*, user) -> Token:
    """A new token for the user; the old one stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)
