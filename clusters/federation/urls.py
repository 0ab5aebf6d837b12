app_name = "federation"
urlpatterns = []
