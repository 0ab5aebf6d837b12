from django.urls import path

from .views import environments, members, quota_requests, quotas, tenants, tokens

app_name = "tenants"

urlpatterns = [
    path("", tenants.tenant_list, name="list"),
    # "-" cannot start a tenant slug, so this never shadows a tenant called "new".
    path("-/new/", tenants.tenant_create, name="create"),
    # Platform operators' queue of quota requests across tenants.
    path("-/quota-requests/", quota_requests.queue, name="quota-requests"),
    path("-/quota-requests/<int:pk>/approve/", quota_requests.quota_request_approve, name="quota-request-approve"),
    path("-/quota-requests/<int:pk>/reject/", quota_requests.quota_request_reject, name="quota-request-reject"),
    path("<slug:slug>/", tenants.tenant_detail, name="detail"),
    path("<slug:slug>/edit/", tenants.tenant_edit, name="edit"),
    path("<slug:slug>/archive/", tenants.tenant_archive, name="archive"),
    path("<slug:slug>/reactivate/", tenants.tenant_reactivate, name="reactivate"),
    path("<slug:slug>/environments/new/", environments.environment_create, name="environment-create"),
    path("<slug:slug>/environments/<slug:env>/edit/", environments.environment_edit, name="environment-edit"),
    path("<slug:slug>/environments/<slug:env>/delete/", environments.environment_delete,
         name="environment-delete"),
    path("<slug:slug>/members/", members.member_list, name="members"),
    path("<slug:slug>/members/invite/", members.member_add, name="member-add"),
    path("<slug:slug>/members/<int:pk>/role/", members.member_change_role, name="member-role"),
    path("<slug:slug>/members/<int:pk>/remove/", members.member_remove, name="member-remove"),
    path("<slug:slug>/quotas/", quotas.quota_list, name="quotas"),
    path("<slug:slug>/quotas/<slug:env>/edit/", quotas.quota_edit, name="quota-edit"),
    path("<slug:slug>/quotas/<slug:env>/request/", quota_requests.quota_request_create, name="quota-request"),
    path("<slug:slug>/quota-requests/<int:pk>/cancel/", quota_requests.quota_request_cancel,
         name="quota-request-cancel"),
    path("<slug:slug>/tokens/", tokens.token_list, name="tokens"),
    path("<slug:slug>/tokens/new/", tokens.token_create, name="token-create"),
    path("<slug:slug>/tokens/<int:pk>/revoke/", tokens.token_revoke, name="token-revoke"),
]
