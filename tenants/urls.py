app_name = "tenants"
urlpatterns = []
