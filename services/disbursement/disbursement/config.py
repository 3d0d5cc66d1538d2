"""The disbursement service's own settings (environment prefix ``GRANTS_``, like every service)."""

from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, model_validator

from grants_shared.encryption import FernetKeys, split_keys
from grants_shared.settings import ServiceSettings

#: Development only. Anyone can read it here, so production MUST set GRANTS_BANK_DETAILS_KEY.
DEV_BANK_DETAILS_KEY = "Z3JhbnRzLWRldi1vbmx5LWJhbmstZGV0YWlscy1rZXk="

AccountNumber = Annotated[str, Field(pattern=r"^[0-9]{8}$")]


class Settings(ServiceSettings):
    # Comma-separated Fernet keys: the first encrypts, every one of them decrypts, so a key is rotated
    # by putting a new one first and keeping the old one until stored details are re-encrypted.
    bank_details_key: FernetKeys = SecretStr(DEV_BANK_DETAILS_KEY)

    #: ``simulated`` pays through the simulated provider's API; ``bank_file``: nothing is paid by API,
    #: finance exports each approved run as a bank file and uploads the bank's reconciliation file.
    payment_provider: Literal["simulated", "bank_file"] = "simulated"
    # The programme's own account, the debtor in bank files.
    bank_file_debtor_name: Annotated[str, Field(min_length=1, max_length=70)] = "Community grants programme"
    bank_file_debtor_sort_code: Annotated[str, Field(pattern=r"^[0-9]{6}$")] = "000000"
    bank_file_debtor_account_number: AccountNumber = "00000000"
    payment_poll_seconds: Annotated[float, Field(gt=0)] = 2.0
    payment_batch_size: Annotated[int, Field(ge=1, le=1_000)] = 50
    payment_max_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    # A declined payment waits base * 2^(attempt-1) seconds, at most the cap, before the next attempt.
    payment_retry_backoff_seconds: Annotated[float, Field(gt=0)] = 60.0
    payment_retry_backoff_max_seconds: Annotated[float, Field(gt=0)] = 6 * 3600.0
    # The provider call is abandoned after this long; its outcome is then unknown, so the payment stays
    # `sending` until its lease runs out and is retried with the same idempotency key.
    payment_provider_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    payment_sending_lease_seconds: Annotated[float, Field(gt=0)] = 300.0

    # Due payments are gathered into payment runs this often (finance can also gather them at once);
    # a run whose total is above this many minor units needs a second, different finance officer.
    payment_run_gather_seconds: Annotated[float, Field(gt=0)] = 600.0
    payment_run_second_approval_above: Annotated[int, Field(ge=0)] = 1_000_000
    payment_run_size: Annotated[int, Field(ge=1, le=5_000)] = 500

    # How often open offers are checked for a closed window (expired) or a reminder due, and how many
    # of each per round.
    offer_poll_seconds: Annotated[float, Field(gt=0)] = 60.0
    offer_batch_size: Annotated[int, Field(ge=1, le=1_000)] = 100

    # Failure injection for the simulated provider (tests and demos).
    simulated_decline_accounts: list[AccountNumber] = []
    simulated_fail_first_attempts: Annotated[int, Field(ge=0, le=100)] = 0

    @model_validator(mode="after")
    def _lease_outlives_the_provider_call(self) -> "Settings":
        # Otherwise a second worker could reclaim a payment whose first call is still in flight.
        if self.payment_sending_lease_seconds <= self.payment_provider_timeout_seconds:
            raise ValueError("payment_sending_lease_seconds must be longer than payment_provider_timeout_seconds")
        return self

    @property
    def uses_development_bank_details_key(self) -> bool:
        return DEV_BANK_DETAILS_KEY in split_keys(self.bank_details_key)

    def development_values(self) -> list[str]:
        development_key = ["GRANTS_BANK_DETAILS_KEY (the development key)"] if self.uses_development_bank_details_key else []
        return super().development_values() + development_key


def current_settings(request: Request) -> Settings:
    return request.app.state.settings


#: The service's own settings, for a route that needs them.
CurrentSettings = Annotated[Settings, Depends(current_settings)]
